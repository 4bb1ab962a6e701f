"""The Train page's parts: the learned weights (filters, output weights), this session's earlier runs."""
