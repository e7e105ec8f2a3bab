# -*- coding: utf-8 -*-
# Shared by the certstore.store modules: run the certstore binary with --format json and read its answer.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import tempfile

# Options every module takes. The store options follow ansible.windows.win_certificate_store.
COMMON_ARGUMENT_SPEC = dict(
    root=dict(type='path'),
    executable=dict(type='path'),
    lock_timeout=dict(type='float'),
)

STORE_ARGUMENT_SPEC = dict(
    store_location=dict(type='str', default='LocalMachine', choices=['LocalMachine', 'CurrentUser']),
    store_name=dict(type='str', default='My', choices=['My', 'CA', 'CertificateAuthority', 'Root']),
)

# win_certificate_store calls the intermediate store CertificateAuthority; certstore calls it CA.
STORE_NAMES = {'CertificateAuthority': 'CA'}


def store_path(params, name=None):
    """`LocalMachine/My` from store_location and store_name (or the given store name)."""
    name = name or params.get('store_name') or 'My'
    return '%s/%s' % (params.get('store_location') or 'LocalMachine', STORE_NAMES.get(name, name))


class CertStoreCLI(object):
    """The certstore binary on the managed host, driven through --format json."""

    def __init__(self, module):
        self.module = module
        executable = module.params.get('executable')
        if executable:
            if not os.access(executable, os.X_OK):
                module.fail_json(msg='certstore executable %s is not executable' % executable)
            self.executable = executable
        else:
            self.executable = module.get_bin_path('certstore', required=True)
        self.root = module.params.get('root')
        self.lock_timeout = module.params.get('lock_timeout')

    def command(self, args, root=None, store=None, json_output=True):
        cmd = [self.executable] + list(args)
        root = root or self.root
        if root:
            cmd += ['--root', root]
        if store:
            cmd += ['--store', store]
        if self.lock_timeout is not None:
            cmd += ['--lock-timeout', str(self.lock_timeout)]
        if json_output:
            cmd += ['--format', 'json']
        return cmd

    def run(self, args, root=None, store=None, password=None, ok=(0,), json_output=True, fail=True):
        """Runs certstore; returns (rc, parsed JSON or None, stdout, stderr). Fails the module with certstore's
        own error text and exit status unless the exit status is in `ok` (or `fail` is False)."""
        cmd = self.command(args, root=root, store=store, json_output=json_output)
        if password is not None:
            cmd.append('--password-stdin')
        # The password goes through standard input, never the command line.
        rc, out, err = self.module.run_command(cmd, data=password, binary_data=False,
                                               environ_update={'NO_COLOR': '1'})
        if rc not in ok:
            if not fail:
                return rc, None, out, err
            self.fail(cmd, rc, out, err)
        data = None
        if json_output and out.strip():
            try:
                data = json.loads(out)
            except ValueError as e:
                self.module.fail_json(msg='certstore printed something that is not JSON: %s' % e, cmd=cmd, rc=rc,
                                      stdout=out, stderr=err)
        return rc, data, out, err

    def fail(self, cmd, rc, out, err, prefix=None):
        text = (err or out or '').strip()
        msg = text or 'certstore exited with status %d' % rc
        if prefix:
            msg = '%s: %s' % (prefix, msg)
        self.module.fail_json(msg=msg, rc=rc, cmd=cmd, stdout=out, stderr=err)

    def certificates(self, store, root=None):
        """`list --format json` of one store: a list of dictionaries with certstore's JSON keys."""
        rc, data, out, err = self.run(['list'], root=root, store=store)
        return data or []

    def find(self, store, thumbprint):
        thumbprint = thumbprint.upper()
        for certificate in self.certificates(store):
            if certificate.get('thumbprint') == thumbprint:
                return certificate
        return None

    def bindings(self):
        rc, data, out, err = self.run(['bindings'])
        return data or {'defaultSmtpCertificate': None, 'services': {}}

    def connectors(self):
        rc, data, out, err = self.run(['connector', 'list'])
        return data or []

    def read_file(self, path, store, password=None, fail=True):
        """What certstore would import from `path`: a `certstore import` into a scratch store, never the real one.
        Returns import's JSON items (thumbprint, store, subject, hasPrivateKey); when certstore cannot read the
        file, fails the module with certstore's error (or returns None when `fail` is False)."""
        scratch = tempfile.mkdtemp(prefix='certstore-ansible-')
        try:
            # --allow-keyless: the scratch store has no keys, and this only looks at what the file holds.
            rc, data, out, err = self.run(['import', path, '--allow-keyless'], root=scratch, store=store, password=password,
                                          fail=False)
            if rc != 0:
                if not fail:
                    return None
                self.fail(self.command(['import', path], root=scratch, store=store), rc, out, err,
                          prefix='cannot read %s' % path)
            return (data or {}).get('items', [])
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def normalize_thumbprint(module, thumbprint):
    """Upper case, without spaces or colons (as Windows copies them from the certificate dialog)."""
    if thumbprint is None:
        return None
    value = thumbprint.replace(' ', '').replace(':', '').replace('\u200e', '').upper()
    if len(value) != 40 or any(c not in '0123456789ABCDEF' for c in value):
        module.fail_json(msg='thumbprint %r is not 40 hexadecimal digits' % thumbprint)
    return value
