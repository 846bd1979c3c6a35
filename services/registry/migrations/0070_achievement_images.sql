-- An achievement's badge image, uploaded by its issuer (event
-- registry.AchievementImageUploaded; the latest upload wins). Served at
-- {public origin}/achievements/{id}/image and baked into holders' exports.
CREATE TABLE registry.achievement_images (
    achievement_id text        PRIMARY KEY REFERENCES registry.achievements (achievement_id),
    media_type     text        NOT NULL CHECK (media_type IN ('image/png', 'image/svg+xml')),
    content        bytea       NOT NULL,
    sha256         text        NOT NULL,
    uploaded_at    timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON registry.achievement_images TO credledger_app;
