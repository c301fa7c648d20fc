# Aggregate statistics across three merchants, 1000 rows each (padding rows
# have valid = 0 and amount 0): the joint count n, the number of frauds, the
# total A, the mean A / n and the variance numerator n*Q - A^2 (Q the sum of
# squared amounts). A, Q and n*Q - A^2 are exact integers: the amounts are
# read as raw ring elements (AS int), so A has F = 16 fractional bits and Q
# and the variance numerator 2F = 32; the mean is fixed point (DIV).
# Reveals: exactly these five outputs (see the README on what aggregates
# reveal).
arith 1 ring 128 frac 16 parties 3

input a0 0 1000 fix             # amounts of merchant 0
input v0 0 1000 int             # 1 for a real row
input f0 0 1000 int             # 1 for a fraud
input a1 1 1000 fix
input v1 1 1000 int
input f1 1 1000 int
input a2 2 1000 fix
input v2 2 1000 int
input f2 2 1000 int

n0 = SUM v0 1000
n1 = SUM v1 1000
n2 = SUM v2 1000
n01 = ADD n0 n1
n = ADD n01 n2                  # joint count

k0 = SUM f0 1000
k1 = SUM f1 1000
k2 = SUM f2 1000
k01 = ADD k0 k1
frauds = ADD k01 k2

s0 = SUM a0 1000
s1 = SUM a1 1000
s2 = SUM a2 1000
s01 = ADD s0 s1
total = ADD s01 s2              # A, fix

i0 = AS a0 int
i1 = AS a1 int
i2 = AS a2 int
q0 = DOT i0 i0 1000             # exact sums of squares (2F fractional bits)
q1 = DOT i1 i1 1000
q2 = DOT i2 i2 1000
q01 = ADD q0 q1
q = ADD q01 q2                  # Q

ai = AS total int
a2sq = MUL ai ai                # A^2, exact
nq = MUL n q                    # n*Q, exact
varnum = SUB nq a2sq            # n*Q - A^2, 2F fractional bits

nf = TOFIX n
mean = DIV total nf

output n all
output frauds all
output total all
output mean all
output varnum all
