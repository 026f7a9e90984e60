"""The command line and the notebook suite: `mathrl <command>`, headless runs of the notebooks, the hosts they run on.

The top layer: it calls every layer below it, and nothing in mathrl imports it.
"""
