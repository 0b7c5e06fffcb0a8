// The FlowRunner target is laid out now; its contents arrive with its issue (see DESIGN.md).
