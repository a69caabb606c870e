# Tokens issued before tokens were bound to a password keep working until their owner's password
# changes or they reach API_TOKEN_DAYS (counted from when they were issued, so old ones end now).

from django.db import migrations
from django.utils.crypto import salted_hmac


def bind_existing_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("consortium", "ApiToken")
    for token in Token.objects.filter(binding__isnull=True).select_related("user"):
        # As consortium.models.password_fingerprint computes it.
        fingerprint = salted_hmac(
            "consortium.ApiToken.password", token.user.password, algorithm="sha256"
        ).hexdigest()
        # Raw: the token's own row (its key, owner and date) exists and stays as it is.
        ApiToken(token_ptr_id=token.key, password_fingerprint=fingerprint).save_base(raw=True)


class Migration(migrations.Migration):

    dependencies = [
        ("consortium", "0004_invitations_email_changes_api_tokens"),
    ]

    operations = [
        migrations.RunPython(bind_existing_tokens, migrations.RunPython.noop),
    ]
