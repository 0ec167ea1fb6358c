"""A glog FATAL as Vitis AI's libraries end a failed CHECK: the line on stderr, then abort()."""

import datetime
import os
import sys


def line(severity, where, text):
    now = datetime.datetime.now()
    return "{}{} {}  {} {}] {}".format(severity, now.strftime("%m%d"), now.strftime("%H:%M:%S.%f"), os.getpid(),
                                      where, text)  # fmt: skip


def warning(where, text):
    sys.stderr.write(line("W", where, text) + "\n")
    sys.stderr.flush()


def fatal(where, text):
    sys.stderr.write(line("F", where, text) + "\n*** Check failure stack trace: ***\n")
    sys.stderr.flush()
    os.abort()
