"""`python -m sweep.train` (also the console script `sweep-train`): train one grid point, or a
grid with `-m`. The entry point lives in the launch layer (launch/entry.py); the training loop
is sweep/run/loop.py."""


def main() -> None:
    from launch.entry import main as entry_main

    entry_main()


if __name__ == "__main__":
    main()
