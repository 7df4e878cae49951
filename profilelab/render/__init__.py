"""Renderers: pictures and documents made from views (static HTML, text, figures)."""
