"""`paperbrief compare`: prompt variants and models on the same papers, with numbers that decide.

`metrics` (pure measures), `results` (the models compare.json is made of), `judge` (the LLM's
pairwise preference) and `render` (Markdown and HTML). The command that runs the variants is
`pipeline.commands.compare`.
"""
