"""Jupyter widgets (anywidget / ipywidgets / plotly); import them from their modules.

``profilelab.widgets.spans.SpanExplorer``: span table + latency histogram + flame graph.
"""
