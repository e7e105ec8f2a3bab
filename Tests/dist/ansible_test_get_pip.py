"""Stand-in for the get-pip.py that ansible-test downloads from ci-files.testing.ansible.com to put pip into the
empty virtual environments of its sanity tests. That host is not reachable from CI (only PyPI is), and
ansible-test says to save the script in its cache when the download fails: this one does the same job with the
interpreter's own ensurepip, then installs the exact packages ansible-test asks for (pip==24.2 ...) from PyPI."""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
