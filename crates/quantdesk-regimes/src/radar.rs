//! TradeMaster dynamics-test metrics and radar scores (to be written).
