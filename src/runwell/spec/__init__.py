"""runwell.spec"""
