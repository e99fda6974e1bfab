"""Score three customers with the team's churn model: the package comes from the private index only."""

import churnscore

CUSTOMERS = {"north depot": (1.2, 0.3, 0.5), "south depot": (0.4, 0.9, 0.0), "harbour": (3.0, 0.2, 2.0)}

for name, features in CUSTOMERS.items():
    print(f"{name}: {churnscore.score(features):.2f} ({churnscore.MODEL}, churnscore {churnscore.__version__})")
