"""The sweep report: ``report.md`` / ``report.html`` of a sweep, drawn from its table
(:mod:`evaluation.sweep`); the command that ran the sweep writes the files
(:mod:`evaluation.commands.sweep_files`).

- ``report``       the sections in reading order, rendered as Markdown and as HTML;
- ``sections``     a section's blocks (paragraphs, tables, saved figures) and the guards that
                   keep one broken figure or section from losing the report;
- ``findings``     its first section: which claims flip between each method and NUTS;
- ``themes``       its headline metrics and their cells (the spread over seeds);
- ``calibration``, ``paper``, ``forensics``: the coverage check, the paper replication and the
  paper forensics sections;
- ``figures``      the theme figures (coverage, sd ratios, sigmas, ARI, k̂, cost).

May import the shared part of :mod:`evaluation.report` and everything below the report;
never another document (run, study, lesson).
"""
