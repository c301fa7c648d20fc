# A linear scorecard over the features two parties hold about the same 256
# transactions: integer points per feature from a public card, a base score,
# and a cut-off. The merchant (party 0) holds 4 binned features per
# transaction, the bank (party 1) 3. The weights are public, so the score is
# linear in the secret inputs (no Beaver round); the comparison is the only
# interactive step. The bank learns the scores, the merchant the decline flags.
arith 1 ring 64 frac 0 parties 2
party 0 merchant
party 1 bank

input xm merchant 1024 int      # 256 x 4 feature bins
input xb bank 768 int           # 256 x 3 feature bins
const wm int 4 12 -7 30 5       # points per bin, merchant's features
const wb int 3 20 15 -10        # points per bin, bank's features
const cut int 1 650

sm = DOT xm wm 4                # public weights: local
sb = DOT xb wb 3
s = ADD sm sb
score = ADDC s 600              # base score
decline = LT score cut          # 1 below the cut-off
output score bank
output decline merchant
