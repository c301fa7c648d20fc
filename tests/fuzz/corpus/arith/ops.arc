arith 1 ring 64 frac 8 parties 3
party 2 carol
input x 0 12 fix
input y carol 12 fix
input i 1 12 int
const k fix 1 -0.375
z = DOT x y 4
zb = DOT x k 12
m = MUL x y
s = SUM i 3
c = CMUL x 2.5e-1
ci = CMUL i -7
a = ADDC x 1.5
t = TRUNC i 2
te = TRUNC_EXACT i 3
f = TOFIX i
as = AS f int
l = LT x y
lz = LTZ x
e = EQ i i
sel = SELECT l x y
r = RELU x
mx = MAX x 4
amx = ARGMAX x 4
mn = MIN y 6
amn = ARGMIN y 6
rc = RECIP y
dv = DIV x y
sq = SQRT y
ex = EXP x
sg = SIGMOID x
output z all
output sel carol
output dv 0
output amx 1
