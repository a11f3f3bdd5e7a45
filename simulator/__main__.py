"""`python -m simulator`: run the department simulator."""

from simulator.app import main

main()
