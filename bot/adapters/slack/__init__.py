"""The Slack adapter: `/incident`, incident channels, stage buttons, approvals, status modals."""
