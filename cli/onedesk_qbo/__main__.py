from onedesk_qbo.main import entry

entry()
