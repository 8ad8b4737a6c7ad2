"""runwell.store"""
