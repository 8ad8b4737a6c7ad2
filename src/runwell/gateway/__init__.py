"""runwell.gateway"""
