"""FlowRunner's implementation of the Styrmin backend API for driver actions."""
