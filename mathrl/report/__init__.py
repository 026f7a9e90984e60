"""Reading finished runs back for people: the figures of training and evaluation, and the summaries notebooks print.

Above train/ and eval/: it reads what they write, and neither imports it.
"""
