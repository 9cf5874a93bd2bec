//! TradeMaster slice-and-merge labeling (to be written).
