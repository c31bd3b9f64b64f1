# pragma version ~=0.4.3
"""
@title roles
@notice Role flags for the engine: ADMIN pulls the parameter levers and grants
        roles, GUARDIAN pauses and unpauses markets. Checked by one helper.
@dev Failure modes: `set_roles`: "Not admin", "Zero address".
"""

flag Role:
    ADMIN
    GUARDIAN

roles_of: public(HashMap[address, Role])


event RolesUpdated:
    account: indexed(address)
    roles: Role
    updated_by: indexed(address)


@deploy
def __init__():
    self._set_roles(msg.sender, Role.ADMIN | Role.GUARDIAN)


@external
def set_roles(account: address, new_roles: Role):
    """
    @notice Replace the roles of `account` (empty flag = none). Admin only.
    @param account The account.
    @param new_roles Its roles (empty = none).
    """
    self._check(Role.ADMIN, "Not admin")
    assert account != empty(address), "Zero address"
    self._set_roles(account, new_roles)


@view
@internal
def _check(role: Role, reason: String[32]):
    assert role in self.roles_of[msg.sender], reason


@internal
def _set_roles(account: address, new_roles: Role):
    self.roles_of[account] = new_roles
    log RolesUpdated(account=account, roles=new_roles, updated_by=msg.sender)
