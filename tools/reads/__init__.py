"""READ tools: answer questions about the cluster as the user, compactly and within a budget."""
