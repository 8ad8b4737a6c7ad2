"""runwell.providers"""
