arith 1 ring 128 frac 16 parties 2
const c fix 1 1e40
output c all
