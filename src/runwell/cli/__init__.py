"""runwell.cli"""
