"""``/api/v1/security/login`` and ``/refresh`` with the same controls as the form: the
lockout and its single answer, the TOTP code, no token for a user who must first change
the password or enrol in TOTP, short-lived access tokens (JWT_ACCESS_TOKEN_EXPIRES); a
refresh is refused once the user is disabled or locked. FAB rate-limits only the form
login: ``RetireeSecurityManager.register_views`` limits this API too."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import safe
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.views import expose
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)

from core.auth import policy, totp
from core.auth.lockout import is_locked


class RetireeSecurityApi(SecurityApi):
    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        """Log in and get a short-lived JWT access token (and a refresh token)
        ---
        post:
          description: >-
            Authenticate with username, password and, when enabled, the TOTP code.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    username:
                      type: string
                    password:
                      type: string
                    provider:
                      type: string
                      enum:
                      - db
                    refresh:
                      type: boolean
                    totp:
                      type: string
                  required:
                  - username
                  - password
          responses:
            200:
              description: Authentication Successful
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token:
                        type: string
                      refresh_token:
                        type: string
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            500:
              $ref: '#/components/responses/500'
        """
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return self.response_400(message="请求体须为JSON对象")
        username, password = payload.get("username"), payload.get("password")
        if not isinstance(username, str) or not isinstance(password, str) \
                or payload.get("provider", "db") != "db" \
                or not isinstance(payload.get("refresh", False), bool):
            return self.response_400(message="须提供 username、password（字符串）")
        user = self.appbuilder.sm.auth_user_db(username, password,
                                               totp_code=payload.get("totp"))
        if not user:
            return self.response_401()
        if policy.must_change(user) or (totp.required(user) and not user.totp_secret):
            return self.response_403()
        # The session epoch (item 14): logout, password change, lock, disable end tokens.
        claims = {"ra_epoch": user.session_epoch}
        tokens = {"access_token": create_access_token(identity=str(user.id), fresh=True,
                                                      additional_claims=claims)}
        if payload.get("refresh"):
            tokens["refresh_token"] = create_refresh_token(identity=str(user.id),
                                                           additional_claims=claims)
        return self.response(200, **tokens)

    @expose("/refresh", methods=["POST"])
    @jwt_required(refresh=True)
    @safe
    def refresh(self):
        """A new access token for a refresh token, while the user may still log in
        ---
        post:
          responses:
            200:
              description: Refresh Successful
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token:
                        type: string
            401:
              $ref: '#/components/responses/401'
            500:
              $ref: '#/components/responses/500'
          security:
            - jwt_refresh: []
        """
        identity = get_jwt_identity()
        user = self.appbuilder.sm.get_user_by_id(int(identity)) \
            if str(identity).isdigit() else None
        epoch = get_jwt().get("ra_epoch")
        if user is None or not user.is_active or is_locked(user) or policy.must_change(user) \
                or epoch != user.session_epoch:
            return self.response_401()
        return self.response(200, access_token=create_access_token(
            identity=identity, fresh=False, additional_claims={"ra_epoch": epoch}))
