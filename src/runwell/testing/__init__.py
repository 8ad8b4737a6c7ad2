"""runwell.testing"""
