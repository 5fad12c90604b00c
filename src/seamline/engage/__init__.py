"""Engage: computed traits and audiences, from one definition to two engines.

`definition` parses and checks what a user writes; `features` names the event summaries a
definition reads; `realtime` keeps those summaries per profile as events arrive; `batch` compiles
the same definition to SQL through Ibis and runs it over the event history.
"""
