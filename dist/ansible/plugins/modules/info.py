#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: info
short_description: Inventory and audit of a certstore certificate store
version_added: 1.0.0
description:
  - Gathers what C(certstore list), C(certstore bindings), C(certstore connector list) and C(certstore audit) say
    about a host (all through C(--format json)) and returns it, also as the fact C(certstore).
  - The audit's status follows the monitoring-plugin convention (OK, WARNING, CRITICAL, UNKNOWN); a CRITICAL
    audit does not fail the task, so a play can report or act on it (e.g. C(audit.remediationPlan)).
  - Changes nothing.
author:
  - certstore maintainers (!UNKNOWN)
options:
  stores:
    description:
      - The stores to list.
    type: list
    elements: str
    choices: [CA, My, Root]
    default: [My, CA, Root]
  audit:
    description:
      - Run C(certstore audit) too.
    type: bool
    default: true
  warning_days:
    description:
      - Days left under which a bound certificate is a WARNING (C(audit --warning-days)); certstore's default is 60.
    type: int
  critical_days:
    description:
      - Days left under which a bound certificate is CRITICAL (C(audit --critical-days)); certstore's default is 30.
    type: int
  store_location:
    description:
      - The store location.
    type: str
    choices: [CurrentUser, LocalMachine]
    default: LocalMachine
  root:
    description:
      - The store root directory (C(certstore --root)). Default is certstore's own (C($CERTSTORE_ROOT), else
        C(/var/lib/certstore)).
    type: path
  executable:
    description:
      - Path of the certstore binary. Default is C(certstore) found on E(PATH).
    type: path
  lock_timeout:
    description:
      - Seconds certstore waits for the store lock (C(--lock-timeout)).
    type: float
notes:
  - Supports check mode (it changes nothing either way).
seealso:
  - module: certstore.store.certificate
  - module: certstore.store.binding
'''

EXAMPLES = r'''
- name: Gather the store and its audit
  certstore.store.info:
  register: store

- name: Keyless certificates in the personal store
  ansible.builtin.debug:
    msg: "{{ store.certificates.My | rejectattr('hasPrivateKey') | map(attribute='thumbprint') | list }}"

- name: Fail when the audit is CRITICAL
  ansible.builtin.assert:
    that: ansible_facts.certstore.audit.status != 'CRITICAL'
    fail_msg: "{{ ansible_facts.certstore.audit.remediationPlan }}"
'''

RETURN = r'''
certificates:
  description: Per store name, the certificates as C(certstore list --format json) gives them (all properties).
  returned: always
  type: dict
bindings:
  description: C(certstore bindings --format json).
  returned: always
  type: dict
connectors:
  description: C(certstore connector list --format json).
  returned: always
  type: list
  elements: dict
audit:
  description:
    - C(certstore audit --format json) (C(status), C(exitCode), C(summary), C(findings), C(remediationPlan), C(connectors)).
  returned: when O(audit=true)
  type: dict
ansible_facts:
  description: The same data as the fact C(certstore).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.certstore.store.plugins.module_utils.certstore import COMMON_ARGUMENT_SPEC, CertStoreCLI


def main():
    argument_spec = dict(
        stores=dict(type='list', elements='str', choices=['CA', 'My', 'Root'], default=['My', 'CA', 'Root']),
        audit=dict(type='bool', default=True),
        warning_days=dict(type='int'),
        critical_days=dict(type='int'),
        store_location=dict(type='str', default='LocalMachine', choices=['CurrentUser', 'LocalMachine']),
    )
    argument_spec.update(COMMON_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cli = CertStoreCLI(module)
    location = module.params['store_location']
    facts = dict(
        certificates=dict((name, cli.certificates('%s/%s' % (location, name))) for name in module.params['stores']),
        bindings=cli.bindings(),
        connectors=cli.connectors(),
    )
    if module.params['audit']:
        args = ['audit']
        if module.params['warning_days'] is not None:
            args += ['--warning-days', str(module.params['warning_days'])]
        if module.params['critical_days'] is not None:
            args += ['--critical-days', str(module.params['critical_days'])]
        # 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN are all answers; UNKNOWN without a report is a failure.
        rc, data, out, err = cli.run(args, store='%s/My' % location, ok=(0, 1, 2, 3))
        if data is None:
            cli.fail(cli.command(args, store='%s/My' % location), rc, out, err, prefix='certstore audit could not run')
        facts['audit'] = data
    module.exit_json(changed=False, ansible_facts=dict(certstore=facts), **facts)


if __name__ == '__main__':
    main()
