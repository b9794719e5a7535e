# Russian amounts: a decimal comma and a non-breaking space between thousands ("1 234,50").
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"
NUMBER_GROUPING = 3
