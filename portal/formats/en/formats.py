# English amounts as before: "1234.50" (no grouping), so ids and quantities read as written;
# and no thousands separator to strip from what people type ("12,50" is then refused as
# not a number, never read as 1250).
NUMBER_GROUPING = 0
THOUSAND_SEPARATOR = ""
