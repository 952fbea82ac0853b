"""Analyzers: each a module with one interface (base.Analyzer), listed in modules.cfg and hot-reloaded."""
