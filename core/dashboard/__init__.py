"""The supervisors' dashboard (issue #6): charts of the registry, scoped to the user.

``criteria`` states what a number counts once and renders it two ways: as SQL for the
aggregate and as the filters of the retiree list that shows exactly those people (so a
click on a bar opens a list with the same count). ``queries`` holds core's charts,
``board`` gathers them with the plugins' charts for a region and dates, ``export`` writes
xlsx and the one-page PDF, ``screens`` is the FAB view at ``/dashboard/``.
"""
