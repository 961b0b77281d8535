"""``secure-up scan``: where do the project's secret values leak?

One module per place searched (worktree, history, images, containers), one for
the multi-pattern search (finder) and one for the report (table, JSON, SARIF).
A finding names the place and the variable, never the value.
"""
