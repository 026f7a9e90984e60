"""What the notebooks show people: data and rewards before training, figures and summaries of finished runs.

Above train/ and eval/: it reads what they write, and neither imports it.
"""
