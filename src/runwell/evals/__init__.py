"""runwell.evals"""
