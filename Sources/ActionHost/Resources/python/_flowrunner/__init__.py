"""Internals of FlowRunner's Python action host."""
