"""The implemented papers, in order of year. Adding a paper = one folder + one line here."""

IMPLEMENTED = [
    "mcculloch1943",
    "rosenblatt1958",
    "hubel1959",
    "lettvin1959",
    "minsky1969",
    "kohonen1972",
    "hinton1981",
    "rumelhart1986",
    "solla1988",
    "cybenko1989",
    "lecun1989",
    "bottou1990",
    "elman1990",
    "bottou1991",
    "krogh1991",
    "bengio2003",
    "vincent2010",
    "glorot2010",
    "hinton2012b",
]
