"""Aansluiting (issue 20): per client and year, does AFAS still hold what Loket journalled?"""
