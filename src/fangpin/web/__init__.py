"""Base templates, static assets (htmx; ECharts later), navigation and role home pages."""
