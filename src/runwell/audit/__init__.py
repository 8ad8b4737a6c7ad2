"""runwell.audit"""
