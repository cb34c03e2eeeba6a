"""Model fitting: BTYD models, spend, contractual retention, churn."""
