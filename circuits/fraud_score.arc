# Joint fraud score: logistic regression over 8 features.
# The merchant (party 0) holds a batch of 256 transactions x 8 features
# (row-major, fixed point); the bank (party 1) holds the model: 8 weights, a
# bias and the decision threshold on the probability. The merchant asks, and
# only the merchant learns the flags (1 = probably fraud); the bank learns
# nothing, the merchant nothing about the model beyond the flags.
#
# Cost: DOT (one Beaver opening of 2 x 2048 masked values, then one truncation
# round), SIGMOID, LT, one output round.
arith 1 ring 128 frac 16 parties 2
party 0 merchant
party 1 bank

input x merchant 2048 fix       # 256 transactions x 8 features
input w bank 8 fix              # weights, broadcast to every row by DOT
input b bank 1 fix              # bias, broadcast to every transaction
input t bank 1 fix              # threshold on the probability

z = DOT x w 8                   # 256 scores w.x (one truncation per row)
zb = ADD z b
p = SIGMOID zb                  # fraud probability
flag = LT t p                   # 1 where p > t
output flag merchant
