"""The implemented papers, in order of year. Adding a paper = one folder + one line here."""

IMPLEMENTED = [
    "mcculloch1943",
    "rosenblatt1958",
    "minsky1969",
    "rumelhart1986",
    "lecun1989",
]
