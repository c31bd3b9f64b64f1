# pragma version ~=0.4.3
"""
@title roles
@notice Role flags for the configurator: ADMIN pulls the parameter levers and grants
        GUARDIAN, GUARDIAN pauses, settles and re-anchors markets. Checked by one helper.
        Exactly one account holds ADMIN at any time. It moves only in two steps: the
        admin proposes an account (`propose_admin`), and that account takes it
        (`accept_admin`). So the system is never left without an admin, and a mistyped
        address can never receive it (it cannot accept); `set_roles` never grants or
        removes ADMIN.
@dev Only the MarketConfigurator takes this module: the engine holds no roles (it
     accepts parameter changes from the configurator alone), so the transfer costs the
     engine no bytecode.
     Failure modes: `set_roles`: "Not admin", "Zero address", "Admin moves by transfer";
     `propose_admin`: "Not admin", "Zero address", "Already admin";
     `cancel_admin_transfer`: "Not admin", "No pending admin";
     `accept_admin`: "Not pending admin".
"""

flag Role:
    ADMIN
    GUARDIAN

roles_of: public(HashMap[address, Role])
admin: public(address)          # the one account holding ADMIN
pending_admin: public(address)  # proposed by the admin, empty when none


event RolesUpdated:
    account: indexed(address)
    roles: Role
    updated_by: indexed(address)

event AdminTransferProposed:
    admin: indexed(address)
    pending_admin: indexed(address)

event AdminTransferCancelled:
    admin: indexed(address)
    pending_admin: indexed(address)

event AdminTransferred:
    previous_admin: indexed(address)
    new_admin: indexed(address)


@deploy
def __init__():
    self.admin = msg.sender
    self._set_roles(msg.sender, Role.ADMIN | Role.GUARDIAN)


@external
def set_roles(account: address, new_roles: Role):
    """
    @notice Replace the roles of `account` other than ADMIN (empty flag = none). Admin
            only. ADMIN itself moves only through `propose_admin` / `accept_admin`: the
            admin's own call must keep ADMIN in `new_roles`, anyone else's must leave it out.
    @dev Reverts "Not admin" (caller is not the admin), "Zero address", "Admin moves by
         transfer" (the call would grant or remove ADMIN).
    @param account The account.
    @param new_roles Its roles (empty = none).
    """
    self._check(Role.ADMIN, "Not admin")
    assert account != empty(address), "Zero address"
    assert (Role.ADMIN in new_roles) == (account == self.admin), "Admin moves by transfer"
    self._set_roles(account, new_roles)


@external
def propose_admin(new_admin: address):
    """
    @notice Start moving ADMIN to `new_admin`, which must then call `accept_admin`. Until
            it does, the caller stays the admin. A new proposal replaces the pending one
            (the earlier account can no longer accept).
    @dev Reverts "Not admin", "Zero address" (cancel with `cancel_admin_transfer`),
         "Already admin" (a proposal to oneself).
    @param new_admin The account that may take ADMIN.
    """
    self._check(Role.ADMIN, "Not admin")
    assert new_admin != empty(address), "Zero address"
    assert new_admin != msg.sender, "Already admin"
    self.pending_admin = new_admin
    log AdminTransferProposed(admin=msg.sender, pending_admin=new_admin)


@external
def cancel_admin_transfer():
    """
    @notice Withdraw the pending proposal: the proposed account can no longer accept.
    @dev Reverts "Not admin", "No pending admin".
    """
    self._check(Role.ADMIN, "Not admin")
    pending: address = self.pending_admin
    assert pending != empty(address), "No pending admin"
    self.pending_admin = empty(address)
    log AdminTransferCancelled(admin=msg.sender, pending_admin=pending)


@external
def accept_admin():
    """
    @notice Take ADMIN as the proposed account: the previous admin loses ADMIN (it keeps
            any other role, which the new admin may revoke with `set_roles`) and the
            caller gains it, in one transaction.
    @dev Reverts "Not pending admin" (the caller is not the proposed account, or
         nothing is proposed).
    """
    assert msg.sender == self.pending_admin, "Not pending admin"
    previous: address = self.admin
    self.pending_admin = empty(address)
    self.admin = msg.sender
    self._set_roles(previous, self.roles_of[previous] & ~Role.ADMIN)
    self._set_roles(msg.sender, self.roles_of[msg.sender] | Role.ADMIN)
    log AdminTransferred(previous_admin=previous, new_admin=msg.sender)


@view
@internal
def _check(role: Role, reason: String[32]):
    assert role in self.roles_of[msg.sender], reason


@internal
def _set_roles(account: address, new_roles: Role):
    self.roles_of[account] = new_roles
    log RolesUpdated(account=account, roles=new_roles, updated_by=msg.sender)
