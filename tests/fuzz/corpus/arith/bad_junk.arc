arith 1 ring 128 frac 16 parties 2
input x 0 4 fix
y = ADD x x x
output y all
