"""The program the py-spy fixtures beside this file recorded: hot_loop is the hotspot."""

import time


def hot_loop(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def cold(n):
    return sum(range(n))


def main(seconds):
    end = time.time() + seconds
    while time.time() < end:
        hot_loop(200_000)
        cold(1000)


if __name__ == "__main__":
    main(1.0)
